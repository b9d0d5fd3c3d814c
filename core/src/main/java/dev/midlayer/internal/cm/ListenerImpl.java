package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmListener;
import dev.midlayer.device.Device;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;

/** Internal API. A listener's handle; its table entry lives in the {@link CmActor}. */
final class ListenerImpl implements CmListener {
  private final Device device;
  private final int port;
  private final long serviceId;
  final CmEventSink sink;
  private final ActorRef<CmActor.Command> cm;

  ListenerImpl(Device device, int port, long serviceId, CmEventSink sink, ActorRef<CmActor.Command> cm) {
    this.device = device;
    this.port = port;
    this.serviceId = serviceId;
    this.sink = sink;
    this.cm = cm;
  }

  @Override
  public Device device() {
    return device;
  }

  @Override
  public int port() {
    return port;
  }

  @Override
  public long serviceId() {
    return serviceId;
  }

  @Override
  public CompletionStage<Done> stop() {
    CompletableFuture<Done> result = new CompletableFuture<>();
    cm.tell(new CmActor.StopListening(this, result));
    return result;
  }

  @Override
  public String toString() {
    return "CM listener " + device.name() + ":" + port + " service 0x" + Long.toHexString(serviceId);
  }
}
