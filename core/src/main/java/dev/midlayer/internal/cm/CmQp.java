package dev.midlayer.internal.cm;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.verbs.QueuePair;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Internal API. The QP transitions the CM makes, with the masks {@code QpStateTable} requires (as
 * {@code cma_modify_qp_rtr}/{@code _rts}/{@code _err} in Linux {@code cma.c}). Each may sleep: called from CM
 * actors, never from atomic context.
 */
final class CmQp {
  private CmQp() {}

  static int access(QpType type) {
    return type == QpType.RC ? AccessFlags.QP_ALL : AccessFlags.REMOTE_WRITE;
  }

  /** RESET to INIT on {@code port}; nothing if the QP left RESET already. */
  static CompletionStage<Done> toInit(QueuePair qp, int port) {
    if (qp.state() != QpState.RESET) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    QpAttr init = QpAttr.builder().qpState(QpState.INIT).pkeyIndex(0).portNum(port).accessFlags(access(qp.type()))
        .build();
    return qp.modify(init, QpAttrMask.STATE | QpAttrMask.PKEY_INDEX | QpAttrMask.PORT | QpAttrMask.ACCESS_FLAGS);
  }

  static CompletionStage<Done> toRtr(QueuePair qp, AhAttr path, int remoteQpn, int rqPsn, Mtu mtu,
      int maxDestRdAtomic, int minRnrTimer) {
    boolean rc = qp.type() == QpType.RC;
    QpAttr rtr = QpAttr.builder().qpState(QpState.RTR).ahAttr(path).pathMtu(mtu).destQpNum(remoteQpn).rqPsn(rqPsn)
        .maxDestRdAtomic(maxDestRdAtomic).minRnrTimer(minRnrTimer).build();
    int mask = QpAttrMask.STATE | QpAttrMask.AV | QpAttrMask.PATH_MTU | QpAttrMask.DEST_QPN | QpAttrMask.RQ_PSN
        | (rc ? QpAttrMask.MAX_DEST_RD_ATOMIC | QpAttrMask.MIN_RNR_TIMER : 0);
    return qp.modify(rtr, mask);
  }

  static CompletionStage<Done> toRts(QueuePair qp, int sqPsn, int timeout, int retryCnt, int rnrRetry,
      int maxRdAtomic) {
    boolean rc = qp.type() == QpType.RC;
    QpAttr rts = QpAttr.builder().qpState(QpState.RTS).sqPsn(sqPsn).timeout(timeout).retryCnt(retryCnt)
        .rnrRetry(rnrRetry).maxRdAtomic(maxRdAtomic).build();
    int mask = QpAttrMask.STATE | QpAttrMask.SQ_PSN
        | (rc ? QpAttrMask.TIMEOUT | QpAttrMask.RETRY_CNT | QpAttrMask.RNR_RETRY | QpAttrMask.MAX_QP_RD_ATOMIC : 0);
    return qp.modify(rts, mask);
  }

  /** To ERR, so outstanding work requests flush; a failure (QP destroyed, device gone) is taken as done. */
  static CompletionStage<Done> toErr(QueuePair qp) {
    try {
      return qp.modify(QpAttr.builder().qpState(QpState.ERR).build(), QpAttrMask.STATE)
          .exceptionally(e -> Done.getInstance());
    } catch (RuntimeException e) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
  }
}
