/**
 * What consumers and drivers see of the registry: the immutable {@link dev.midlayer.registry.RegistrySnapshot}
 * that readers use without waiting, and the registration errors. They reach the registry through
 * {@link dev.midlayer.Midlayer}. The exceptions here are immutable and safe to pass between threads.
 */
package dev.midlayer.registry;
