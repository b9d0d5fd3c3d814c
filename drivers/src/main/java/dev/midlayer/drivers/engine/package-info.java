/**
 * The soft transport engine every software driver shares: one actor per QP ({@link
 * dev.midlayer.drivers.engine.QpEngine}) driving IB's roles, one per file as Linux rxe splits them (requester,
 * completer, responder, RDMA responder, local operations, completion writer), over a driver's {@link
 * dev.midlayer.drivers.engine.Link} that carries transport {@link dev.midlayer.drivers.engine.Packet}s.
 */
package dev.midlayer.drivers.engine;
