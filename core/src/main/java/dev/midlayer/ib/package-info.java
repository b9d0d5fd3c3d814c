/**
 * The InfiniBand value types of the midlayer, shared by consumers and drivers: QP states and types,
 * attribute masks, access and send flags, opcodes, completion statuses and flags, MTU, GID, port and device
 * attributes, async event types, the QP state table, and the two base errors
 * ({@link dev.midlayer.ib.MidlayerException}, {@link dev.midlayer.ib.InvalidArgumentException}). The leaf of
 * the layering: it depends on nothing else of the project. Everything here is immutable (or a constant
 * holder) and safe from any thread.
 */
package dev.midlayer.ib;
