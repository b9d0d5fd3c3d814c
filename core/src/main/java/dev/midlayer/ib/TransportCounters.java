package dev.midlayer.ib;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The transport counters of a QP, or of a port (the sum over its QPs), as a software device's
 * {@code hw_counters} report them ({@code rdma statistic}; the names of {@link #asMap()} follow Linux rxe's
 * {@code rxe_hw_counters.c} where it has one). Packets and bytes count what the transport carried: requests
 * and answers (ACKs, NAKs, READ responses), retransmissions included.
 *
 * <p>Threading: immutable; every method never blocks and may be called from any thread.
 *
 * @param sentPackets packets this QP sent ({@code sent_pkts})
 * @param sentBytes payload bytes of those packets
 * @param receivedPackets packets that reached this QP ({@code rcvd_pkts})
 * @param receivedBytes payload bytes of those packets
 * @param retransmittedPackets requests sent again after a NAK or a timeout (part of {@code sentPackets})
 * @param rnrNaksSent RNR NAKs this QP's responder answered: no receive was posted ({@code send_rnr_err})
 * @param rnrNaksReceived RNR NAKs this QP's requester got ({@code rcvd_rnr_err})
 * @param sequenceNaksSent PSN sequence error NAKs the responder answered: requests were lost before this one
 *     ({@code out_of_seq_request})
 * @param sequenceNaksReceived PSN sequence error NAKs the requester got ({@code rcvd_seq_err})
 * @param duplicateRequests requests the responder had executed already, answered again ({@code duplicate_request})
 * @param ackTimeouts ACK timeouts that made the requester retransmit ({@code completer_retry_err})
 * @param retriesExceeded times the retry or RNR retry budget ran out: RETRY_EXC_ERR or RNR_RETRY_EXC_ERR
 *     ({@code retry_exceeded_err} plus {@code retry_rnr_exceeded_err})
 * @param completionsWithError completions with a status other than SUCCESS and WR_FLUSH_ERR
 * @param completionsFlushed completions with WR_FLUSH_ERR
 * @param cqOverflows CQ overflows this QP's completions caused: a completion of the QP found its send or receive
 *     CQ full, which put the CQ in error (CQ_ERR) and its QPs in ERR (QP_FATAL); one per overflowed CQ
 *     ({@code cq_overflow}). The midlayer counts it, not the driver: the CQ is the midlayer's
 */
public record TransportCounters(
    long sentPackets,
    long sentBytes,
    long receivedPackets,
    long receivedBytes,
    long retransmittedPackets,
    long rnrNaksSent,
    long rnrNaksReceived,
    long sequenceNaksSent,
    long sequenceNaksReceived,
    long duplicateRequests,
    long ackTimeouts,
    long retriesExceeded,
    long completionsWithError,
    long completionsFlushed,
    long cqOverflows) {

  /** All zero: a QP that carried nothing, or a driver that keeps no counters. */
  public static final TransportCounters ZERO = new TransportCounters(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  /** The sum of this and {@code o}, counter by counter (a port's counters are its QPs' sum). */
  public TransportCounters plus(TransportCounters o) {
    return new TransportCounters(sentPackets + o.sentPackets, sentBytes + o.sentBytes,
        receivedPackets + o.receivedPackets, receivedBytes + o.receivedBytes,
        retransmittedPackets + o.retransmittedPackets, rnrNaksSent + o.rnrNaksSent,
        rnrNaksReceived + o.rnrNaksReceived, sequenceNaksSent + o.sequenceNaksSent,
        sequenceNaksReceived + o.sequenceNaksReceived, duplicateRequests + o.duplicateRequests,
        ackTimeouts + o.ackTimeouts, retriesExceeded + o.retriesExceeded,
        completionsWithError + o.completionsWithError, completionsFlushed + o.completionsFlushed,
        cqOverflows + o.cqOverflows);
  }

  /** The counters by their {@code rdma statistic} names, in a fixed order, as a new map. */
  public Map<String, Long> asMap() {
    Map<String, Long> m = new LinkedHashMap<>();
    m.put("sent_pkts", sentPackets);
    m.put("sent_bytes", sentBytes);
    m.put("rcvd_pkts", receivedPackets);
    m.put("rcvd_bytes", receivedBytes);
    m.put("retransmitted_pkts", retransmittedPackets);
    m.put("send_rnr_err", rnrNaksSent);
    m.put("rcvd_rnr_err", rnrNaksReceived);
    m.put("out_of_seq_request", sequenceNaksSent);
    m.put("rcvd_seq_err", sequenceNaksReceived);
    m.put("duplicate_request", duplicateRequests);
    m.put("completer_retry_err", ackTimeouts);
    m.put("retry_exceeded_err", retriesExceeded);
    m.put("completion_err", completionsWithError);
    m.put("completion_flushed", completionsFlushed);
    // Linux has no standard counter for it (neither rxe's nor mlx5's hw counters have one; a driver reports an
    // overflow as the CQ_ERR event), so it is named for what it counts, in rdma statistic's lower_snake style.
    m.put("cq_overflow", cqOverflows);
    return m;
  }
}
