/**
 * Internal API. The connection manager behind {@link dev.midlayer.cm.ConnectionManager}: the CM actor, one actor
 * per connection with a behaviour per IB CM state, the wire protocol ({@link dev.midlayer.internal.cm.CmProtocol})
 * and its transport.
 */
package dev.midlayer.internal.cm;
