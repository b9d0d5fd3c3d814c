/**
 * The registry: {@link dev.midlayer.registry.RegistryActor} runs device and client registration one
 * operation at a time and publishes an immutable {@link dev.midlayer.registry.RegistrySnapshot} for
 * readers. Consumers and drivers reach it through {@link dev.midlayer.Midlayer}. The exceptions here
 * are immutable and safe to pass between threads.
 */
package dev.midlayer.registry;
