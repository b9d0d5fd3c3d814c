package dev.midlayer.device;

import dev.midlayer.ib.QpState;
import dev.midlayer.ib.QpType;
import dev.midlayer.ib.TransportCounters;

/**
 * What {@code rdma res show qp} and {@code rdma statistic qp show} print of a queue pair: its number, type,
 * state and port when listed, and its transport counters then. Immutable: every method never blocks and may be
 * called from any thread.
 *
 * @param qpNum the QP number ({@code lqpn})
 * @param type RC, UC or UD
 * @param state the state when listed
 * @param portNum the port its attributes name (0 before its first modify to INIT)
 * @param counters its transport counters when listed ({@code hw_counters} of the QP)
 */
public record QpResourceInfo(int qpNum, QpType type, QpState state, int portNum, TransportCounters counters) {}
