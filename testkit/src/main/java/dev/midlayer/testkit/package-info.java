/**
 * Test support for midlayer scenarios: {@link dev.midlayer.testkit.MidlayerTestKit} (a midlayer with a loopback
 * fabric and a contract monitor on its own actor system), the JUnit 5 extensions
 * {@link dev.midlayer.testkit.MidlayerFabric} and {@link dev.midlayer.testkit.MidlayerExtension}, connected pairs,
 * traffic, probes, hostile clients, seeds and waits; {@link dev.midlayer.testkit.RecordingClient} with
 * {@link dev.midlayer.testkit.CallbackLog}, which checks the client lifecycle contract. The driver conformance
 * suite is in {@code dev.midlayer.testkit.conformance}.
 */
package dev.midlayer.testkit;
