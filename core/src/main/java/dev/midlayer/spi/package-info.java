/**
 * The driver SPI: everything a low-level driver implements and everything it is given, as interfaces and
 * values over the IB value types of {@code dev.midlayer.ib} and nothing else of the project.
 *
 * <ul>
 *   <li>What a driver implements: the ops table {@link dev.midlayer.spi.DeviceOps} (the Java
 *       {@code struct ib_device_ops}; {@link dev.midlayer.spi.DriverOp} lists each op, whether it is
 *       mandatory and whether it may sleep) and its side of each QP, {@link dev.midlayer.spi.DriverQp}.
 *   <li>What it is given: its device ({@link dev.midlayer.spi.DriverDevice}: events, QPs by number, memory
 *       keys), each QP's work queues, attributes, state changes and completions
 *       ({@link dev.midlayer.spi.QpContext}), key resolution ({@link dev.midlayer.spi.MemoryKeys},
 *       {@link dev.midlayer.spi.MemoryMapping}), and a {@link dev.midlayer.spi.Spawner} for its actors.
 * </ul>
 *
 * <p>Which driver ops may call back into the midlayer: every op may call the non-sleeping verbs and
 * {@link dev.midlayer.spi.DriverDevice#dispatchPortEvent}; none may wait for a may-sleep verb of its own
 * device (the device's ops run on its actor, which would wait for itself: the midlayer refuses such a call
 * with {@link dev.midlayer.spi.DriverSelfWaitException}).
 */
package dev.midlayer.spi;
