/**
 * The rpc template ULP, request and response over RC as DaRPC does: an {@link dev.midlayer.ulp.rpc.RpcServer}
 * posts its receives to one shared receive queue (SRQ) per device that every client's QP takes requests from, and
 * answers each on the QP it came from; an {@link dev.midlayer.ulp.rpc.RpcClient} calls through an
 * {@link dev.midlayer.ulp.rpc.RpcChannel}.
 *
 * <p>Flow control is by credits, so that no request ever finds the SRQ empty (no RNR NAK under load): the server
 * grants each client a number of credits in the REP and admits a client only while the credits granted fit in the
 * SRQ; a client has at most that many calls outstanding (a response returns the credit); the server posts a
 * request's receive again before it answers, so a credit is backed by a receive whenever it is usable.
 */
package dev.midlayer.ulp.rpc;
