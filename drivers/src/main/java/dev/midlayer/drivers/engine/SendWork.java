package dev.midlayer.drivers.engine;

import dev.midlayer.ib.WcStatus;
import dev.midlayer.spi.SendWqe;

/**
 * A send WQE the requester took from the send queue and that the completer has not finished yet: either sent
 * (with the packet, kept for retransmission) or failed a local check behind WRs still in flight (it completes
 * with its error once everything before it did, as a NIC's completions come in order).
 */
sealed interface SendWork {
  SendWqe wqe();

  /** Sent as {@code packet} (PSN {@code packet.psn()}); READ and atomics wait for their answer's data. */
  record Transmitted(SendWqe wqe, Packet packet) implements SendWork {}

  /** Failed locally with {@code status}; holds a PSN so that the in-flight list stays in PSN order. */
  record FailedLocally(SendWqe wqe, WcStatus status) implements SendWork {}
}
