/**
 * Clients (upper-level protocols): the plain {@link dev.midlayer.client.Client} interface, the typed
 * {@link dev.midlayer.client.ClientMessage} protocol, and {@link dev.midlayer.client.ClientId}. A
 * client's callbacks run one at a time on the client dispatcher and may sleep.
 */
package dev.midlayer.client;
