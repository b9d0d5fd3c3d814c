package dev.midlayer.drivers.engine;

import dev.midlayer.ib.TransportCounters;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The transport counters of one QP's engine. One writer (the engine's turn, one thread at a time), any number
 * of readers: each counter is bumped with an opaque read and write of its own slot, no atomic read-modify-write
 * and nothing shared between QPs, so counting costs the data path two plain memory accesses; a reader sees each
 * counter whole and, soon, current ({@link #snapshot()} is not one instant across counters).
 *
 * <p>Threading: the {@code count*} methods from the engine's turn only; {@link #snapshot()} from any thread.
 * None blocks.
 */
final class EngineCounters {
  private static final VarHandle SLOT = MethodHandles.arrayElementVarHandle(long[].class);

  private static final int SENT_PACKETS = 0;
  private static final int SENT_BYTES = 1;
  private static final int RECEIVED_PACKETS = 2;
  private static final int RECEIVED_BYTES = 3;
  private static final int RETRANSMITTED = 4;
  private static final int RNR_NAKS_SENT = 5;
  private static final int RNR_NAKS_RECEIVED = 6;
  private static final int SEQ_NAKS_SENT = 7;
  private static final int SEQ_NAKS_RECEIVED = 8;
  private static final int DUPLICATES = 9;
  private static final int ACK_TIMEOUTS = 10;
  private static final int RETRIES_EXCEEDED = 11;
  private static final int COMPLETION_ERRORS = 12;
  private static final int COMPLETIONS_FLUSHED = 13;

  private final long[] slots = new long[14];

  private void add(int slot, long n) {
    SLOT.setOpaque(slots, slot, (long) SLOT.getOpaque(slots, slot) + n);
  }

  private long get(int slot) {
    return (long) SLOT.getOpaque(slots, slot);
  }

  /** A packet left through the link; {@code attempt > 0} for a request's retransmission. */
  void countSent(Packet p, int attempt) {
    add(SENT_PACKETS, 1);
    add(SENT_BYTES, p.payloadLength());
    if (attempt > 0 && p.opcode().isRequest()) {
      add(RETRANSMITTED, 1);
    }
    if (!p.opcode().isRequest()) {
      if (Aeth.isRnrNak(p.aeth())) {
        add(RNR_NAKS_SENT, 1);
      } else if (isSequenceNak(p.aeth())) {
        add(SEQ_NAKS_SENT, 1);
      }
    }
  }

  /** A packet arrived for this QP. */
  void countReceived(Packet p) {
    add(RECEIVED_PACKETS, 1);
    add(RECEIVED_BYTES, p.payloadLength());
    if (!p.opcode().isRequest()) {
      if (Aeth.isRnrNak(p.aeth())) {
        add(RNR_NAKS_RECEIVED, 1);
      } else if (isSequenceNak(p.aeth())) {
        add(SEQ_NAKS_RECEIVED, 1);
      }
    }
  }

  /** The responder answered a request it had executed already. */
  void countDuplicate() {
    add(DUPLICATES, 1);
  }

  /** The ACK timer expired with no progress: the requester retransmits. */
  void countAckTimeout() {
    add(ACK_TIMEOUTS, 1);
  }

  /** The retry or RNR retry budget ran out. */
  void countRetryExceeded() {
    add(RETRIES_EXCEEDED, 1);
  }

  /** A completion with an error status ({@code flushed}: WR_FLUSH_ERR). */
  void countError(boolean flushed) {
    add(flushed ? COMPLETIONS_FLUSHED : COMPLETION_ERRORS, 1);
  }

  private static boolean isSequenceNak(int aeth) {
    return Aeth.isNak(aeth) && Aeth.value(aeth) == Aeth.NAK_PSN_SEQUENCE_ERROR;
  }

  /** The counters now. Any thread; never blocks. */
  TransportCounters snapshot() {
    return new TransportCounters(get(SENT_PACKETS), get(SENT_BYTES), get(RECEIVED_PACKETS), get(RECEIVED_BYTES),
        get(RETRANSMITTED), get(RNR_NAKS_SENT), get(RNR_NAKS_RECEIVED), get(SEQ_NAKS_SENT),
        get(SEQ_NAKS_RECEIVED), get(DUPLICATES), get(ACK_TIMEOUTS), get(RETRIES_EXCEEDED),
        get(COMPLETION_ERRORS), get(COMPLETIONS_FLUSHED), 0); // CQ overflows: the midlayer counts them
  }
}
