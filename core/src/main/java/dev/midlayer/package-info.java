/**
 * midlayer: an InfiniBand-style RDMA midlayer on Pekko typed actors. Start at {@link dev.midlayer.Midlayer}.
 *
 * <p>Packages: {@code registry} (the registry actor and its snapshot), {@code device} (devices, their
 * actors, async events), {@code client} (the client API and client actors), {@code context} (atomic
 * context marking and the may-sleep check), {@code spi} (what a low-level driver implements).
 */
package dev.midlayer;
