package dev.midlayer.internal.cm;

import dev.midlayer.cm.CmSidrRequest;
import dev.midlayer.cm.PrivateDataLimits;
import dev.midlayer.cm.RejectReason;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.atomic.AtomicBoolean;

/** Internal API. The answer handle of a SIDR_REQ: checks at once, then has the {@link CmActor} send SIDR_REP. */
final class SidrRequestImpl implements CmSidrRequest {
  private final AtomicBoolean answered = new AtomicBoolean();
  private final CmContext cm;
  private final CmProtocol.SidrReq req;

  SidrRequestImpl(CmContext cm, CmProtocol.SidrReq req) {
    this.cm = cm;
    this.req = req;
  }

  @Override
  public void accept(QueuePair udQp, byte[] privateData) {
    InvalidArgumentException.requireNonNull(udQp, "udQp");
    byte[] data = PrivateDataLimits.check("privateData", "SIDR_REP", PrivateDataLimits.SIDR_REP, privateData);
    if (udQp.type() != QpType.UD) {
      throw new InvalidArgumentException("udQp", udQp + " is " + udQp.type() + "; SIDR answers with a UD QP");
    }
    if (udQp.state() != QpState.RTS) {
      throw new InvalidArgumentException("udQp", udQp + " is in " + udQp.state() + "; a UD QP answers in RTS "
          + "(bring it up with QpConnect.ud)");
    }
    answer();
    reply(null, udQp.qpNum(), udQp.query().qkey(), data);
  }

  @Override
  public void reject(byte[] privateData) {
    byte[] data = PrivateDataLimits.check("privateData", "SIDR_REP", PrivateDataLimits.SIDR_REP, privateData);
    answer();
    reply(RejectReason.CONSUMER_REJECT, 0, 0, data);
  }

  void rejectIfUnanswered() {
    if (answered.compareAndSet(false, true)) {
      reply(RejectReason.CONSUMER_REJECT, 0, 0, new byte[0]);
    }
  }

  private void reply(RejectReason reason, int qpn, int qkey, byte[] data) {
    cm.cm().tell(new CmActor.SidrAnswered(new CmProtocol.SidrRep(req.dstGid(), req.srcGid(), req.requestId(),
        reason, qpn, qkey, data)));
  }

  private void answer() {
    if (!answered.compareAndSet(false, true)) {
      throw new IllegalStateException("this SIDR request was answered already");
    }
  }
}
