package dev.midlayer.cli;

import dev.midlayer.Midlayer;
import dev.midlayer.client.ClientId;
import dev.midlayer.drivers.loopback.LoopbackDevice;
import dev.midlayer.drivers.loopback.LoopbackFabric;
import dev.midlayer.ulp.inventory.Inventory;
import dev.midlayer.ulp.portmonitor.PortMonitor;
import java.io.PrintStream;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import picocli.CommandLine.Command;

/**
 * {@code midlayer hotplug}: the lifecycle demo on the loopback fabric. Two template clients (a plain
 * Java one and a typed actor) watch devices being plugged in and out and links going down and up, and
 * the demo prints every callback in the order the midlayer made it.
 */
@Command(name = "hotplug", mixinStandardHelpOptions = true,
    description = "Hot-plug loopback devices under two clients and print every add, remove and port event.")
public final class HotplugCommand implements Callable<Integer> {

  private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
  private PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    ActorSystem<Void> system = MidlayerCli.startSystem();
    try {
      run(system, System.out);
      return 0;
    } finally {
      MidlayerCli.stopSystem(system);
    }
  }

  /** Runs the scenario on {@code system}, printing to {@code out}. */
  void run(ActorSystem<?> system, PrintStream printTo) throws Exception {
    this.out = printTo;
    Midlayer midlayer = Midlayer.get(system);
    LoopbackFabric fabric = new LoopbackFabric(midlayer);

    step("register client portmon (plain Java client): no device yet, so no add");
    ClientId portmon = await(midlayer.registerClient(new PortMonitor("portmon", lines::add)));
    expect(0);

    step("plug in lo0 (2 ports): portmon gets add");
    LoopbackDevice lo0 = await(fabric.addDevice("lo%d", 2));
    expect(1);

    step("register client inventory (typed actor): add for every device already there");
    ClientId inventory = await(midlayer.registerClient("inventory", Inventory.create(lines::add)));
    expect(1);

    step("plug in lo1 (1 port): adds in client registration order");
    LoopbackDevice lo1 = await(fabric.addDevice("lo%d", 1));
    expect(2);

    step("link down on lo0 port 2, then up: the port monitor's event handler sees both");
    lo0.linkDown(2);
    expect(1);
    lo0.linkUp(2);
    expect(1);

    step("unplug lo0: removes in reverse client order; unregister returns after the last one");
    await(fabric.removeDevice(lo0));
    expect(2);
    out.println("   lo0 is now " + lo0.device().state() + "; devices listed: " + names(midlayer));

    step("unregister client portmon: remove for every device it had");
    await(midlayer.unregisterClient(portmon));
    expect(1);

    step("unplug lo1, then unregister inventory");
    await(fabric.removeDevice(lo1));
    expect(1);
    await(midlayer.unregisterClient(inventory));
    expect(0);
    out.println("done: " + midlayer.devices().size() + " device(s), " + midlayer.clients().size()
        + " client(s) registered");
  }

  private void step(String title) {
    out.println("== " + title);
  }

  /** Prints the next {@code n} callback lines, in the order the clients reported them. */
  private void expect(int n) throws InterruptedException {
    for (int i = 0; i < n; i++) {
      String line = lines.poll(10, TimeUnit.SECONDS);
      if (line == null) {
        throw new IllegalStateException("expected " + (n - i) + " more callback(s), none came in 10 s");
      }
      out.println("   " + line);
    }
    if (!lines.isEmpty()) {
      throw new IllegalStateException("unexpected callback: " + lines.peek());
    }
  }

  private static String names(Midlayer midlayer) {
    return midlayer.devices().stream().map(d -> d.name()).toList().toString();
  }

  private static <T> T await(CompletionStage<T> stage) throws Exception {
    return stage.toCompletableFuture().get(10, TimeUnit.SECONDS);
  }
}
