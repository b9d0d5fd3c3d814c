/**
 * The implementation behind the consumer API and the driver SPI: the actors (registry, device, client, CQ),
 * the handles' classes and their tables. <b>Not an API</b>: nothing here is meant to be used by applications
 * or drivers, no public signature of the API exposes it, and it may change without notice. An ArchUnit test
 * of the build keeps it that way.
 */
package dev.midlayer.internal;
