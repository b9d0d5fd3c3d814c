/**
 * Test support for midlayer scenarios: {@link dev.midlayer.testkit.MidlayerTestKit} (a midlayer with a
 * loopback fabric on its own actor system), {@link dev.midlayer.testkit.MidlayerExtension} (JUnit 5),
 * and {@link dev.midlayer.testkit.RecordingClient} with {@link dev.midlayer.testkit.CallbackLog}, which
 * checks the client lifecycle contract.
 */
package dev.midlayer.testkit;
