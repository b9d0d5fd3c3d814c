/**
 * The connection manager: the midlayer's {@code rdma_cm}, with IB CM's exchange (IBTA vol. 1, ch. 12; Linux
 * {@code drivers/infiniband/core/cm.c} and {@code cma.c}). Entry point {@link dev.midlayer.cm.ConnectionManager}
 * ({@code Midlayer.connectionManager()}); events are the {@link dev.midlayer.cm.CmEvent} records; limits of private
 * data in {@link dev.midlayer.cm.PrivateDataLimits}. Every call returns at once and never blocks; see the module
 * README, section "Connection manager".
 */
package dev.midlayer.cm;
