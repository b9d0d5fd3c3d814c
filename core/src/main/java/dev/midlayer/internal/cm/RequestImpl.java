package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmConnection;
import dev.midlayer.cm.CmEventSink;
import dev.midlayer.cm.CmRequest;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.device.Device;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.actor.typed.ActorRef;

/** Internal API. The answer handle of a REQ: checks at once, then tells the passive {@link ConnectionActor}. */
final class RequestImpl implements CmRequest {
  private final AtomicBoolean answered = new AtomicBoolean();
  private final ActorRef<ConnectionActor.Cmd> actor;
  private final Device device;
  private final QpType type;
  private final CmEventSink listenerSink;

  RequestImpl(ActorRef<ConnectionActor.Cmd> actor, Device device, QpType type, CmEventSink listenerSink) {
    this.actor = actor;
    this.device = device;
    this.type = type;
    this.listenerSink = listenerSink;
  }

  @Override
  public CompletionStage<CmConnection> accept(QueuePair qp, byte[] privateData) {
    return accept(qp, privateData, listenerSink);
  }

  @Override
  public CompletionStage<CmConnection> accept(QueuePair qp, byte[] privateData, CmEventSink events) {
    InvalidArgumentException.requireNonNull(qp, "qp");
    InvalidArgumentException.requireNonNull(events, "events");
    byte[] data = PrivateDataLimits.check("privateData", "REP", PrivateDataLimits.REP, privateData);
    if (!qp.device().equals(device)) {
      throw new InvalidArgumentException("qp", qp + " is on " + qp.device().name() + ", the request came to "
          + device.name());
    }
    if (qp.type() != type) {
      throw new InvalidArgumentException("qp", "the REQ is for a " + type + " QP, " + qp + " is " + qp.type());
    }
    QpState s = qp.state();
    if (s != QpState.RESET && s != QpState.INIT) {
      throw new InvalidArgumentException("qp", qp + " is in " + s + "; the CM connects a QP in RESET or INIT");
    }
    answer();
    CompletableFuture<CmConnection> result = new CompletableFuture<>();
    actor.tell(new ConnectionActor.Accept(qp, data, events, result));
    return result;
  }

  @Override
  public void reject(byte[] privateData) {
    byte[] data = PrivateDataLimits.check("privateData", "REJ", PrivateDataLimits.REJ, privateData);
    answer();
    actor.tell(new ConnectionActor.Reject(data));
  }

  /** For a handler that threw: rejects unless it answered before throwing. */
  void rejectIfUnanswered() {
    if (answered.compareAndSet(false, true)) {
      actor.tell(new ConnectionActor.Reject(new byte[0]));
    }
  }

  private void answer() {
    if (!answered.compareAndSet(false, true)) {
      throw new IllegalStateException("this connect request was answered already");
    }
  }
}
