package dev.midlayer.cli.perftest;

import picocli.CommandLine.Option;

/** The options {@code send_bw} and {@code send_lat} share, named as in linux-rdma perftest. */
final class TransportOptions {
  @Option(names = {"-s", "--size"}, defaultValue = "64", paramLabel = "BYTES",
      description = "Message size in bytes (default ${DEFAULT-VALUE}).")
  int size;

  @Option(names = {"-t", "--tx-depth"}, defaultValue = "128", paramLabel = "WRS",
      description = "Window: posted-but-not-completed work requests per QP; for send_* also the receives "
          + "pre-posted per QP (default ${DEFAULT-VALUE}).")
  int txDepth;

  @Option(names = {"-e", "--events"},
      description = "Event-driven completion: arm the CQs (requestNotify NEXT_COMP, report missed events) and "
          + "sleep until the completion handler signals, instead of busy polling.")
  boolean events;

  @Option(names = {"-I", "--inline-size"}, defaultValue = "" + PerftestSetup.DEFAULT_INLINE, paramLabel = "BYTES",
      description = "Max inline data the QPs are created with; messages up to this size are sent INLINE "
          + "(0 disables; default ${DEFAULT-VALUE}).")
  int inlineSize;

  @Option(names = {"-D", "--duration"}, defaultValue = "0", paramLabel = "SECONDS",
      description = "Measure for this many seconds instead of -n iterations (after the warm-up, as perftest's "
          + "-D; not with -n or -a).")
  long duration;

  /**
   * Checks the shared options against the device limits: {@code -s} 1..max_msg_sz, {@code -t} 1..max_qp_wr,
   * {@code -I} 0..max_inline_data.
   */
  void check(PerftestCommandBase command) {
    command.bound("--size", size, 1, PerftestCommandBase.LIMITS_MAX_MSG, "max_msg_sz");
    command.bound("--tx-depth", txDepth, 1, PerftestCommandBase.LIMITS.maxQpWr(), "max_qp_wr");
    command.bound("--inline-size", inlineSize, 0, PerftestCommandBase.LIMITS.maxInlineData(), "max_inline_data");
    command.bound("--duration", duration, 0, 3600);
    command.require(duration == 0 || !command.given("--iterations"), "give at most one of --iterations and --duration");
    command.require(duration == 0 || !command.given("--all"),
        "--duration runs one size: give at most one of --all and --duration");
  }

  /** Send flags for a message of {@code bytes} on a QP created with {@code -I}: INLINE if it fits. */
  int inlineFlag(int bytes) {
    return bytes > 0 && bytes <= inlineSize ? dev.midlayer.ib.SendFlags.INLINE : 0;
  }
}
