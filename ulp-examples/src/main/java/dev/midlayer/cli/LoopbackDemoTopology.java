package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.device.Device;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;

/** The demo on one midlayer's loopback fabric: the server on lo0, the client on lo1. */
final class LoopbackDemoTopology implements DemoTopology {
  private final Midlayer midlayer;
  private final LoopbackFabric fabric;
  private final LoopbackDevice server;
  private LoopbackDevice client;

  /** Adds the two devices to {@code midlayer}. May sleep. */
  LoopbackDemoTopology(Midlayer midlayer) throws Exception {
    this.midlayer = midlayer;
    this.fabric = new LoopbackFabric(midlayer);
    this.server = await(fabric.addDevice("lo%d", 1));
    this.client = await(fabric.addDevice("lo%d", 1));
  }

  @Override
  public String describe() {
    return "devices " + server.name() + " and " + client.name() + " on the loopback fabric";
  }

  @Override
  public List<Midlayer> midlayers() {
    return List.of(midlayer);
  }

  @Override
  public Device serverDevice() {
    return server.device();
  }

  @Override
  public Device clientDevice() {
    return client.device();
  }

  @Override
  public String replugClientDevice() throws Exception {
    await(fabric.removeDevice(client));
    client = await(fabric.addDevice("lo%d", 1));
    return client.name();
  }

  @Override
  public void removeDevices() throws Exception {
    for (LoopbackDevice d : fabric.devices()) {
      await(fabric.removeDevice(d));
    }
  }

  @Override
  public void close() {
    // the actor system is the caller's
  }

  static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }
}
