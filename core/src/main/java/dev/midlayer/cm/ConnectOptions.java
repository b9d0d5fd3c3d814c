package dev.midlayer.cm;

import dev.midlayer.ib.InvalidArgumentException;

/**
 * What the active side proposes in its REQ besides QP and private data ({@code struct rdma_conn_param}). The
 * passive side answers each resource with the smaller of the proposal and its own, so the defaults ask for
 * much. Immutable; {@link #defaults()} and the {@code with...} methods never block and may be called from any thread
 * (a bad value throws {@link InvalidArgumentException} at once).
 *
 * @param responderResources incoming RDMA READs and atomics this side accepts at once
 * @param initiatorDepth RDMA READs and atomics this side issues at once
 * @param rnrRetryCount how often the peer retries a send this side's responder NAKed (7: forever)
 * @param retryCount transport retries of this side's sends
 * @param localAckTimeout ACK timeout code of this side's sends
 * @param rtuPrivateData private data of the RTU this side sends (at most {@link PrivateDataLimits#RTU})
 * @param events where the connection's events go; null: only the returned stage reports the outcome
 */
public record ConnectOptions(int responderResources, int initiatorDepth, int rnrRetryCount, int retryCount,
    int localAckTimeout, byte[] rtuPrivateData, CmEventSink events) {

  /** Checks the ranges and copies the RTU private data; a bad value throws {@link InvalidArgumentException}. */
  public ConnectOptions {
    rtuPrivateData = PrivateDataLimits.check("rtuPrivateData", "RTU", PrivateDataLimits.RTU, rtuPrivateData);
    range("responderResources", responderResources, 0, 255);
    range("initiatorDepth", initiatorDepth, 0, 255);
    range("rnrRetryCount", rnrRetryCount, 0, 7);
    range("retryCount", retryCount, 0, 7);
    range("localAckTimeout", localAckTimeout, 0, 31);
  }

  /** 16 READs/atomics each way, RNR retry forever, 7 retries, ACK timeout code 14, no events sink. */
  public static ConnectOptions defaults() {
    return new ConnectOptions(16, 16, 7, 7, 14, null, null);
  }

  /** These options with the connection's events going to {@code sink}. */
  public ConnectOptions withEvents(CmEventSink sink) {
    return new ConnectOptions(responderResources, initiatorDepth, rnrRetryCount, retryCount, localAckTimeout,
        rtuPrivateData, sink);
  }

  /** These options with other RNR retry count, retry count and ACK timeout code. */
  public ConnectOptions withRetries(int newRnrRetryCount, int newRetryCount, int newLocalAckTimeout) {
    return new ConnectOptions(responderResources, initiatorDepth, newRnrRetryCount, newRetryCount,
        newLocalAckTimeout, rtuPrivateData, events);
  }

  /** These options with {@code data} as the RTU's private data. */
  public ConnectOptions withRtuPrivateData(byte[] data) {
    return new ConnectOptions(responderResources, initiatorDepth, rnrRetryCount, retryCount, localAckTimeout, data,
        events);
  }

  private static void range(String field, int v, int min, int max) {
    if (v < min || v > max) {
      throw new InvalidArgumentException(field, "must be " + min + ".." + max + ", was " + v);
    }
  }
}
