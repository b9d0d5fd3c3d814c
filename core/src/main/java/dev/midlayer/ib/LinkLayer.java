package dev.midlayer.ib;

/** The link layer of a port ({@code IB_LINK_LAYER_*}). */
public enum LinkLayer {
  INFINIBAND,
  ETHERNET
}
