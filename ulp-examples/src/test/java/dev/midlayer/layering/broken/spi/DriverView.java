package dev.midlayer.layering.broken.spi;

import dev.midlayer.layering.broken.internal.Impl;

/** Breaks "spi depends only on ib": an SPI type that hands out an implementation class. */
public interface DriverView {
  Impl impl();
}
