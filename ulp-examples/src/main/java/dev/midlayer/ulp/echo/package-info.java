/**
 * The actor template ULP: {@link dev.midlayer.ulp.echo.UdEcho}, a UD echo service written as one Pekko typed actor
 * with its own protocol. It registers itself as a client through a message adapter, makes and releases its verbs
 * objects with stages piped to itself, and takes its work completions as messages through
 * {@link dev.midlayer.cq.Cqe#tell}, so its state needs no synchronization at all. Copy it for a ULP that lives in
 * an actor system and wants its data path in an actor.
 */
package dev.midlayer.ulp.echo;
