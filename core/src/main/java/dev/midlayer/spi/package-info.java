/**
 * The driver SPI: what a low-level driver implements ({@link dev.midlayer.spi.DeviceOps}, the ops table)
 * and reports ({@link dev.midlayer.ib.DeviceAttributes}, {@link dev.midlayer.ib.PortAttributes}).
 * {@link dev.midlayer.spi.DriverOp} lists each op with whether it is mandatory and whether it may
 * sleep. Attribute records and enums are immutable and safe from any thread.
 */
package dev.midlayer.spi;
