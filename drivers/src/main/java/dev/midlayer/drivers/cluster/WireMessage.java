package dev.midlayer.drivers.cluster;

/**
 * Marker of the messages that cross the wire between nodes: bound to {@link ClusterSerializer} in the module's
 * {@code reference.conf} ({@code pekko.actor.serialization-bindings}), so neither Java serialization nor Jackson
 * ever sees them.
 */
interface WireMessage {}
