package dev.midlayer.verbs;

/**
 * Internal API for drivers: a send work request posted with {@link SendFlags#INLINE}, with its payload
 * copied at post time (so the caller may reuse its buffer as soon as the post returns).
 *
 * @param wr the work request
 * @param data the gathered payload
 */
public record InlineSend(SendWr wr, byte[] data) {}
