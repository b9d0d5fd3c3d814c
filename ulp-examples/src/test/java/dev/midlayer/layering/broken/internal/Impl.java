package dev.midlayer.layering.broken.internal;

/** An implementation class, as in dev.midlayer.internal. */
public final class Impl {}
