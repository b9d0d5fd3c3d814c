/**
 * Devices as consumers see them: the {@link dev.midlayer.device.Device} handle and unaffiliated
 * asynchronous events ({@link dev.midlayer.device.AsyncEvent}, {@link dev.midlayer.device.EventHandler}).
 * Records, enums and exceptions here are immutable and safe from any thread; {@code Device} documents per
 * method whether it may sleep.
 */
package dev.midlayer.device;
