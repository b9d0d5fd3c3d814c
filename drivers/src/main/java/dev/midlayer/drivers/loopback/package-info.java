/**
 * The loopback driver: a software InfiniBand fabric inside one JVM. Start at
 * {@link dev.midlayer.drivers.loopback.LoopbackFabric}.
 */
package dev.midlayer.drivers.loopback;
