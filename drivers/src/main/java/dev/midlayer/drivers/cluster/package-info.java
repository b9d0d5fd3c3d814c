/**
 * The cluster driver's transport layer: devices whose ports are the nodes of a Pekko cluster, found through
 * the Receptionist, whose state follows membership, and whose packets travel as frames over Artery TCP. A
 * transport engine per QP plugs in on top ({@link dev.midlayer.drivers.cluster.ClusterLink},
 * {@link dev.midlayer.drivers.cluster.PacketSink}). See the module's README, "Cluster driver: wire, discovery,
 * credits".
 */
package dev.midlayer.drivers.cluster;
