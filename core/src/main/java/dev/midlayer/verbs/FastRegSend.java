package dev.midlayer.verbs;

/**
 * Internal API for drivers: a posted {@link WrOpcode#REG_MR} with the page list its region had when it
 * was posted (a snapshot, so a later {@link MemoryRegion#mapPages} does not change this request).
 *
 * @param wr the work request
 * @param pages the staged mapping, to be made VALID under {@code wr.regKey()} with {@code wr.regAccess()}
 */
public record FastRegSend(SendWr wr, MrMapping pages) {}
