package dev.midlayer.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Brings a QP from RESET to RTS the way a connection manager does, with the mask each step requires
 * ({@link dev.midlayer.ib.QpStateTable}): RESET to INIT (port, P_Key index, access or Q_Key), INIT to RTR (path,
 * remote QP, receive PSN, responder resources), RTR to RTS (timeouts, retries, send PSN). The caller
 * exchanges what the peer needs (its LID or GID, QP number and PSNs) out of band, as with a CM.
 *
 * <p>Threading: the steps <b>may sleep</b> (they are {@link QueuePair#modify}s, run on the device actor):
 * call them from any thread but not from atomic context (inside a midlayer callback) nor from a driver op of
 * the QP's device. They do not wait themselves: each returns a stage and chains the next modify on its
 * completion.
 * {@link Params} is an immutable value: its methods never block and may be called from any thread.
 */
public final class QpConnect {
  private QpConnect() {}

  /** The transport parameters of a connection; {@link #defaults()} suits the loopback fabric. */
  public record Params(int portNum, int accessFlags, Mtu pathMtu, int timeout, int retryCnt, int rnrRetry,
      int minRnrTimer, int maxRdAtomic, int maxDestRdAtomic) {
    /** Port 1, remote read/write/atomic accepted, MTU 4096, timeout 14 (67 ms), 7 retries, RNR retry forever. */
    public static Params defaults() {
      return new Params(1, AccessFlags.REMOTE_READ | AccessFlags.REMOTE_WRITE | AccessFlags.REMOTE_ATOMIC,
          Mtu.MTU_4096, 14, 7, 7, 12, 16, 16);
    }

    /** These parameters with other timeout, retry count, RNR retry count and minimal RNR timer. */
    public Params withRetries(int newTimeout, int newRetryCnt, int newRnrRetry, int newMinRnrTimer) {
      return new Params(portNum, accessFlags, pathMtu, newTimeout, newRetryCnt, newRnrRetry, newMinRnrTimer,
          maxRdAtomic, maxDestRdAtomic);
    }
  }

  /**
   * Connects an RC or UC QP to the remote QP {@code remoteQpn} behind {@code remote}: RESET to RTS
   * ({@link #toRtr}, then {@link #toRts}). May sleep: not from a midlayer callback; any other thread.
   *
   * @param sqPsn the first PSN this QP sends (the peer's {@code rqPsn})
   * @param rqPsn the first PSN this QP expects (the peer's {@code sqPsn})
   */
  public static CompletionStage<Done> connect(QueuePair qp, AhAttr remote, int remoteQpn, int sqPsn, int rqPsn,
      Params p) {
    return toRtr(qp, remote, remoteQpn, rqPsn, p).thenCompose(d -> toRts(qp, sqPsn, p));
  }

  /**
   * The first half of {@link #connect}: RESET to INIT to RTR, receiving from the remote QP {@code remoteQpn}
   * behind {@code remote} from PSN {@code rqPsn} (what a passive side does when it sends its reply; it can
   * receive but not send yet). May sleep: not from a midlayer callback; any other thread. The stage completes
   * when both steps were applied.
   */
  public static CompletionStage<Done> toRtr(QueuePair qp, AhAttr remote, int remoteQpn, int rqPsn, Params p) {
    boolean rc = qp.type() == QpType.RC;
    QpAttr init = QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(p.portNum())
        .accessFlags(p.accessFlags()).build();
    QpAttr rtr = QpAttr.builder().qpState(QpState.RTR).ahAttr(remote).pathMtu(p.pathMtu()).destQpNum(remoteQpn)
        .rqPsn(rqPsn).maxDestRdAtomic(p.maxDestRdAtomic()).minRnrTimer(p.minRnrTimer()).build();
    int rtrMask = QpAttrMask.STATE | QpAttrMask.AV | QpAttrMask.PATH_MTU | QpAttrMask.DEST_QPN | QpAttrMask.RQ_PSN
        | (rc ? QpAttrMask.MAX_DEST_RD_ATOMIC | QpAttrMask.MIN_RNR_TIMER : 0);
    return qp.modify(init, QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS)
        .thenCompose(d -> qp.modify(rtr, rtrMask));
  }

  /**
   * The second half of {@link #connect}: RTR to RTS, sending from PSN {@code sqPsn} with the retry parameters of
   * {@code p}. May sleep: not from a midlayer callback; any other thread.
   */
  public static CompletionStage<Done> toRts(QueuePair qp, int sqPsn, Params p) {
    boolean rc = qp.type() == QpType.RC;
    QpAttr rts = QpAttr.builder().qpState(QpState.RTS).sqPsn(sqPsn).timeout(p.timeout()).retryCnt(p.retryCnt())
        .rnrRetry(p.rnrRetry()).maxRdAtomic(p.maxRdAtomic()).build();
    int rtsMask = QpAttrMask.STATE | QpAttrMask.SQ_PSN
        | (rc ? QpAttrMask.TIMEOUT | QpAttrMask.RETRY_CNT | QpAttrMask.RNR_RETRY | QpAttrMask.MAX_QP_RD_ATOMIC : 0);
    return qp.modify(rts, rtsMask);
  }

  /**
   * Brings a UD QP to RTS on {@code portNum} with Q_Key {@code qkey}, sending from PSN {@code sqPsn}. May
   * sleep: not from a midlayer callback; any other thread.
   */
  public static CompletionStage<Done> ud(QueuePair qp, int portNum, int qkey, int sqPsn) {
    QpAttr init = QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(portNum).qkey(qkey).build();
    return qp.modify(init, QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.QKEY)
        .thenCompose(d -> qp.modify(QpAttr.builder().qpState(QpState.RTR).build(), QpAttrMask.STATE))
        .thenCompose(d -> qp.modify(QpAttr.builder().qpState(QpState.RTS).sqPsn(sqPsn).build(),
            QpAttrMask.STATE | QpAttrMask.SQ_PSN));
  }
}
