/**
 * Seeded, replayable fault injection for software transports. A {@link dev.midlayer.drivers.fault.FaultPlan}
 * says which packets of which link direction or QP are dropped, duplicated, delayed or reordered; its
 * {@link dev.midlayer.drivers.fault.FaultPlan#decide decide} is a pure function of (seed, direction, packet
 * identity, attempt), so a run with the same seed makes the same decisions whatever the thread interleaving.
 * Nothing here knows a driver: a driver's link asks the plan about each packet it is about to hand to the peer
 * and applies the {@link dev.midlayer.drivers.fault.FaultDecision}.
 */
package dev.midlayer.drivers.fault;
