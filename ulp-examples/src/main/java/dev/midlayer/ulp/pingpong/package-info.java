/**
 * The pingpong template ULP, the {@code ibv_rc_pingpong} of midlayer: a {@link
 * dev.midlayer.ulp.pingpong.PingPongServer} listens through the connection manager on every device it is added
 * to and echoes each message back; a {@link dev.midlayer.ulp.pingpong.PingPongClient} connects from the devices
 * it is added to and sends one message at a time, the next when the echo of the last arrived, and reports
 * iterations, rate and round-trip latency ({@link dev.midlayer.ulp.pingpong.PingPongResult}).
 *
 * <p>Both are registered clients ({@code struct ib_client}): they set up in {@code add}, where they may sleep,
 * and undo everything in {@code remove}: drain the QP ({@code ib_drain_qp}, so every posted WR has completed),
 * then destroy it. The data path runs in completion callbacks ({@link dev.midlayer.cq.Cqe}, atomic context):
 * posting is all they do. By default the CQ's actor calls them ({@link dev.midlayer.cq.PollContext#ACTOR}); with
 * busy polling a thread of the endpoint polls the CQ ({@link dev.midlayer.cq.PollContext#DIRECT}). Copy this
 * package to start a ULP on reliable connections.
 */
package dev.midlayer.ulp.pingpong;
