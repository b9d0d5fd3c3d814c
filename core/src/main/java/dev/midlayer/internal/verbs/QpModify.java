package dev.midlayer.internal.verbs;

import dev.midlayer.ib.AccessFlags;
import dev.midlayer.ib.InvalidArgumentException;
import dev.midlayer.ib.Mtu;
import dev.midlayer.ib.QpAttr;
import dev.midlayer.ib.QpAttrMask;
import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpStateTable;
import dev.midlayer.internal.device.DeviceImpl;
import dev.midlayer.internal.device.DeviceResources;
import dev.midlayer.internal.jfr.MidlayerEvents;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * Internal API. {@code ib_modify_qp}: the state table ({@link QpStateTable}), the value checks of each
 * attribute, the merge into the QP's attributes, and the hand-off to the driver. Runs on the device actor;
 * the stage completes once the driver applied the change.
 */
final class QpModify {
  private QpModify() {}

  static CompletionStage<Done> modify(QpImpl qp, QpAttr newAttr, int mask) {
    InvalidArgumentException.requireNonNull(newAttr, "attr");
    CompletionStage<CompletionStage<?>> applied = DeviceResources.run(qp.device(), "modifyQp", () -> {
      while (true) {
        QpState from = qp.state.get();
        QpState to = QpStateTable.check(qp.type, from, mask, newAttr.qpState(), newAttr.curQpState());
        checkValues(qp, newAttr, mask);
        QpAttr merged = merge(qp.attr, newAttr, mask, to);
        if (qp.state.compareAndSet(from, to)) {
          MidlayerEvents.qpStateChange(qp.device().name(), qp.qpNum, from, to);
          qp.attr = merged;
          return qp.driver.modified(from, to, merged, mask);
        }
        // The driver moved the QP (to ERR) meanwhile: judge the request against the new state.
      }
    });
    // Complete once the driver applied it: after modify to RESET nothing old is left to drop a new post.
    return applied.thenCompose(driverDone -> driverDone).thenApply(x -> Done.getInstance());
  }

  /** Moves the QP to ERR for a drain (the driver flushes); completes once the driver applied it. */
  static CompletionStage<Done> toError(QpImpl qp, String verb) {
    CompletionStage<CompletionStage<?>> applied = DeviceResources.run(qp.device(), verb, () -> {
      QpState from = qp.state.get();
      if (from == QpState.RESET) {
        throw new InvalidArgumentException("qpState", verb + ": QP " + qp.qpNum + " is in RESET, nothing to drain");
      }
      if (qp.moveToError()) {
        qp.attr = qp.attr.toBuilder().qpState(QpState.ERR).build();
        return qp.driver.modified(from, QpState.ERR, qp.attr, QpAttrMask.STATE);
      }
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    return applied.thenCompose(driverDone -> driverDone).thenApply(x -> Done.getInstance());
  }

  private static void checkValues(QpImpl qp, QpAttr a, int mask) {
    DeviceImpl device = qp.device();
    int port = (mask & QpAttrMask.PORT) != 0 ? a.portNum() : qp.attr.portNum();
    if ((mask & QpAttrMask.PORT) != 0) {
      QpImpl.range("attr.portNum", a.portNum(), 1, device.portCount());
    }
    if ((mask & QpAttrMask.PKEY_INDEX) != 0) {
      int len = device.cachedPort(port >= 1 && port <= device.portCount() ? port : 1).pkeyTableLength();
      QpImpl.range("attr.pkeyIndex", a.pkeyIndex(), 0, len - 1);
    }
    if ((mask & QpAttrMask.ACCESS_FLAGS) != 0) {
      AccessFlags.validateQp(a.accessFlags(), "attr.accessFlags");
    }
    if ((mask & QpAttrMask.AV) != 0) {
      InvalidArgumentException.requireNonNull(a.ahAttr(), "attr.ahAttr");
      a.ahAttr().validate(device.name(), device.portCount(), device::cachedPort);
    }
    if ((mask & QpAttrMask.PATH_MTU) != 0) {
      InvalidArgumentException.requireNonNull(a.pathMtu(), "attr.pathMtu");
      int p = (mask & QpAttrMask.AV) != 0 ? a.ahAttr().portNum() : port;
      Mtu max = device.cachedPort(p >= 1 && p <= device.portCount() ? p : 1).maxMtu();
      if (a.pathMtu().bytes() > max.bytes()) {
        throw new InvalidArgumentException("attr.pathMtu", a.pathMtu() + " exceeds the port's max MTU " + max);
      }
    }
    if ((mask & QpAttrMask.TIMEOUT) != 0) {
      QpImpl.range("attr.timeout", a.timeout(), 0, 31);
    }
    if ((mask & QpAttrMask.RETRY_CNT) != 0) {
      QpImpl.range("attr.retryCnt", a.retryCnt(), 0, 7);
    }
    if ((mask & QpAttrMask.RNR_RETRY) != 0) {
      QpImpl.range("attr.rnrRetry", a.rnrRetry(), 0, 7);
    }
    if ((mask & QpAttrMask.MIN_RNR_TIMER) != 0) {
      QpImpl.range("attr.minRnrTimer", a.minRnrTimer(), 0, 31);
    }
    if ((mask & QpAttrMask.RQ_PSN) != 0) {
      QpImpl.range("attr.rqPsn", a.rqPsn(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.SQ_PSN) != 0) {
      QpImpl.range("attr.sqPsn", a.sqPsn(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.DEST_QPN) != 0) {
      QpImpl.range("attr.destQpNum", a.destQpNum(), 0, 0xFFFFFF);
    }
    if ((mask & QpAttrMask.MAX_QP_RD_ATOMIC) != 0) {
      QpImpl.range("attr.maxRdAtomic", a.maxRdAtomic(), 0, device.attributes().maxQpInitRdAtom());
    }
    if ((mask & QpAttrMask.MAX_DEST_RD_ATOMIC) != 0) {
      QpImpl.range("attr.maxDestRdAtomic", a.maxDestRdAtomic(), 0, device.attributes().maxQpRdAtom());
    }
    if ((mask & (QpAttrMask.ALT_PATH | QpAttrMask.PATH_MIG_STATE)) != 0) {
      throw new InvalidArgumentException("mask", "alternate paths (ALT_PATH, PATH_MIG_STATE) are not supported");
    }
  }

  private static QpAttr merge(QpAttr cur, QpAttr a, int mask, QpState to) {
    QpAttr.Builder b = cur.toBuilder().qpState(to);
    if ((mask & QpAttrMask.EN_SQD_ASYNC_NOTIFY) != 0) b.enSqdAsyncNotify(a.enSqdAsyncNotify());
    if ((mask & QpAttrMask.ACCESS_FLAGS) != 0) b.accessFlags(a.accessFlags());
    if ((mask & QpAttrMask.PKEY_INDEX) != 0) b.pkeyIndex(a.pkeyIndex());
    if ((mask & QpAttrMask.PORT) != 0) b.portNum(a.portNum());
    if ((mask & QpAttrMask.QKEY) != 0) b.qkey(a.qkey());
    if ((mask & QpAttrMask.AV) != 0) b.ahAttr(a.ahAttr());
    if ((mask & QpAttrMask.PATH_MTU) != 0) b.pathMtu(a.pathMtu());
    if ((mask & QpAttrMask.TIMEOUT) != 0) b.timeout(a.timeout());
    if ((mask & QpAttrMask.RETRY_CNT) != 0) b.retryCnt(a.retryCnt());
    if ((mask & QpAttrMask.RNR_RETRY) != 0) b.rnrRetry(a.rnrRetry());
    if ((mask & QpAttrMask.RQ_PSN) != 0) b.rqPsn(a.rqPsn());
    if ((mask & QpAttrMask.MAX_QP_RD_ATOMIC) != 0) b.maxRdAtomic(a.maxRdAtomic());
    if ((mask & QpAttrMask.MIN_RNR_TIMER) != 0) b.minRnrTimer(a.minRnrTimer());
    if ((mask & QpAttrMask.SQ_PSN) != 0) b.sqPsn(a.sqPsn());
    if ((mask & QpAttrMask.MAX_DEST_RD_ATOMIC) != 0) b.maxDestRdAtomic(a.maxDestRdAtomic());
    if ((mask & QpAttrMask.DEST_QPN) != 0) b.destQpNum(a.destQpNum());
    return b.build();
  }
}
