package dev.midlayer.ib;


/**
 * QP attributes ({@code struct ib_qp_attr}) for {@link dev.midlayer.verbs.QueuePair#modify} and from {@link dev.midlayer.verbs.QueuePair#query}.
 * A modify uses only the fields whose {@link QpAttrMask} bit is in its mask. Immutable; build with
 * {@link #builder()}.
 *
 * <p>Threading: every method of the record and of its {@link Builder} never blocks. The record may be used
 * from any thread; a builder is not thread-safe: use it from one thread at a time.
 *
 * @param qpState target state (STATE)
 * @param curQpState the caller's assumed current state (CUR_STATE)
 * @param enSqdAsyncNotify raise SQ_DRAINED when SQD is reached (EN_SQD_ASYNC_NOTIFY)
 * @param accessFlags remote operations the QP accepts as responder (ACCESS_FLAGS), {@link AccessFlags}
 * @param pkeyIndex P_Key index (PKEY_INDEX)
 * @param portNum port, 1-based (PORT)
 * @param qkey Q_Key (QKEY), UD
 * @param ahAttr primary path (AV), RC and UC
 * @param pathMtu path MTU (PATH_MTU)
 * @param timeout local ACK timeout code 0..31: 4.096 µs × 2^timeout, 0 = wait forever (TIMEOUT)
 * @param retryCnt transport retries 0..7 (RETRY_CNT)
 * @param rnrRetry RNR retries 0..7, 7 = forever (RNR_RETRY)
 * @param rqPsn expected receive PSN, 24 bits (RQ_PSN)
 * @param maxRdAtomic outstanding RDMA READ/atomic this QP may issue (MAX_QP_RD_ATOMIC)
 * @param minRnrTimer RNR NAK timer code 0..31 this responder advertises (MIN_RNR_TIMER)
 * @param sqPsn first send PSN, 24 bits (SQ_PSN)
 * @param maxDestRdAtomic incoming RDMA READ/atomic this QP accepts at once (MAX_DEST_RD_ATOMIC)
 * @param destQpNum remote QP number, 24 bits (DEST_QPN), RC and UC
 */
public record QpAttr(
    QpState qpState,
    QpState curQpState,
    boolean enSqdAsyncNotify,
    int accessFlags,
    int pkeyIndex,
    int portNum,
    int qkey,
    AhAttr ahAttr,
    Mtu pathMtu,
    int timeout,
    int retryCnt,
    int rnrRetry,
    int rqPsn,
    int maxRdAtomic,
    int minRnrTimer,
    int sqPsn,
    int maxDestRdAtomic,
    int destQpNum) {

  /** A builder with every field zero or null. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding these values, to change some. */
  public Builder toBuilder() {
    Builder b = new Builder();
    b.qpState = qpState;
    b.curQpState = curQpState;
    b.enSqdAsyncNotify = enSqdAsyncNotify;
    b.accessFlags = accessFlags;
    b.pkeyIndex = pkeyIndex;
    b.portNum = portNum;
    b.qkey = qkey;
    b.ahAttr = ahAttr;
    b.pathMtu = pathMtu;
    b.timeout = timeout;
    b.retryCnt = retryCnt;
    b.rnrRetry = rnrRetry;
    b.rqPsn = rqPsn;
    b.maxRdAtomic = maxRdAtomic;
    b.minRnrTimer = minRnrTimer;
    b.sqPsn = sqPsn;
    b.maxDestRdAtomic = maxDestRdAtomic;
    b.destQpNum = destQpNum;
    return b;
  }

  /** Builder for {@link QpAttr}. Not thread-safe: one thread at a time; never blocks. */
  public static final class Builder {
    private QpState qpState;
    private QpState curQpState;
    private boolean enSqdAsyncNotify;
    private int accessFlags;
    private int pkeyIndex;
    private int portNum;
    private int qkey;
    private AhAttr ahAttr;
    private Mtu pathMtu;
    private int timeout;
    private int retryCnt;
    private int rnrRetry;
    private int rqPsn;
    private int maxRdAtomic;
    private int minRnrTimer;
    private int sqPsn;
    private int maxDestRdAtomic;
    private int destQpNum;

    private Builder() {}

    /** Sets {@code qpState}: target state (STATE). */
    public Builder qpState(QpState v) { this.qpState = v; return this; }
    /** Sets {@code curQpState}: the caller's assumed current state (CUR_STATE). */
    public Builder curQpState(QpState v) { this.curQpState = v; return this; }
    /** Sets {@code enSqdAsyncNotify}: raise SQ_DRAINED when SQD is reached (EN_SQD_ASYNC_NOTIFY). */
    public Builder enSqdAsyncNotify(boolean v) { this.enSqdAsyncNotify = v; return this; }
    /** Sets {@code accessFlags}: remote operations the QP accepts as responder (ACCESS_FLAGS), {@link AccessFlags}. */
    public Builder accessFlags(int v) { this.accessFlags = v; return this; }
    /** Sets {@code pkeyIndex}: P_Key index (PKEY_INDEX). */
    public Builder pkeyIndex(int v) { this.pkeyIndex = v; return this; }
    /** Sets {@code portNum}: port, 1-based (PORT). */
    public Builder portNum(int v) { this.portNum = v; return this; }
    /** Sets {@code qkey}: Q_Key (QKEY), UD. */
    public Builder qkey(int v) { this.qkey = v; return this; }
    /** Sets {@code ahAttr}: primary path (AV), RC and UC. */
    public Builder ahAttr(AhAttr v) { this.ahAttr = v; return this; }
    /** Sets {@code pathMtu}: path MTU (PATH_MTU). */
    public Builder pathMtu(Mtu v) { this.pathMtu = v; return this; }
    /** Sets {@code timeout}: local ACK timeout code 0..31: 4.096 µs × 2^timeout, 0 = wait forever (TIMEOUT). */
    public Builder timeout(int v) { this.timeout = v; return this; }
    /** Sets {@code retryCnt}: transport retries 0..7 (RETRY_CNT). */
    public Builder retryCnt(int v) { this.retryCnt = v; return this; }
    /** Sets {@code rnrRetry}: RNR retries 0..7, 7 = forever (RNR_RETRY). */
    public Builder rnrRetry(int v) { this.rnrRetry = v; return this; }
    /** Sets {@code rqPsn}: expected receive PSN, 24 bits (RQ_PSN). */
    public Builder rqPsn(int v) { this.rqPsn = v; return this; }
    /** Sets {@code maxRdAtomic}: outstanding RDMA READ/atomic this QP may issue (MAX_QP_RD_ATOMIC). */
    public Builder maxRdAtomic(int v) { this.maxRdAtomic = v; return this; }
    /** Sets {@code minRnrTimer}: RNR NAK timer code 0..31 this responder advertises (MIN_RNR_TIMER). */
    public Builder minRnrTimer(int v) { this.minRnrTimer = v; return this; }
    /** Sets {@code sqPsn}: first send PSN, 24 bits (SQ_PSN). */
    public Builder sqPsn(int v) { this.sqPsn = v; return this; }
    /** Sets {@code maxDestRdAtomic}: incoming RDMA READ/atomic this QP accepts at once (MAX_DEST_RD_ATOMIC). */
    public Builder maxDestRdAtomic(int v) { this.maxDestRdAtomic = v; return this; }
    /** Sets {@code destQpNum}: remote QP number, 24 bits (DEST_QPN), RC and UC. */
    public Builder destQpNum(int v) { this.destQpNum = v; return this; }

    /** A {@link QpAttr} of the values set so far (unset ones zero or null). */
    public QpAttr build() {
      return new QpAttr(qpState, curQpState, enSqdAsyncNotify, accessFlags, pkeyIndex, portNum, qkey, ahAttr,
          pathMtu, timeout, retryCnt, rnrRetry, rqPsn, maxRdAtomic, minRnrTimer, sqPsn, maxDestRdAtomic,
          destQpNum);
    }
  }
}
