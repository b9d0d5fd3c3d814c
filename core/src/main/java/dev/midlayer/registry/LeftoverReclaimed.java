package dev.midlayer.registry;

import dev.midlayer.client.ClientId;

/**
 * Published on the actor system's event stream each time the midlayer reclaims an object a client left
 * behind: when the client's {@code remove} for the device returned (or its {@code add} failed or declined)
 * with the object still there, or, for objects no client owns, when the device's unregistration completed.
 * It is always a ULP bug (the seed: a consumer must finish all cleanup before returning from remove); the
 * midlayer also logs it as a warning. The testkit turns it into a test failure. Immutable.
 *
 * @param client the owner, or null for an object no client created
 * @param device the device's name
 * @param object what it was (e.g. {@code "RC QP 5"}, {@code "CQ #2 (64 entries)"}, an event handler)
 */
public record LeftoverReclaimed(ClientId client, String device, String object) {}
