/**
 * midlayer: an InfiniBand-style RDMA midlayer on Pekko typed actors. Start at {@link dev.midlayer.Midlayer}.
 *
 * <p>Layers, each depending only on those before it:
 * <ul>
 *   <li>{@code ib}: the IB value types (states, flags, opcodes, statuses, attributes, event types) and the
 *       base errors; it depends on nothing else of the project;
 *   <li>{@code spi}: what a low-level driver implements and is given (interfaces and values over {@code ib});
 *   <li>the consumer API: this package ({@code Midlayer}, its settings), {@code registry}, {@code device},
 *       {@code client}, {@code context}, {@code cq}, {@code verbs};
 *   <li>{@code internal}: the actors and tables behind the handles, not an API.
 * </ul>
 */
package dev.midlayer;
