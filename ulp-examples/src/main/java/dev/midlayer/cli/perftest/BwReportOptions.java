package dev.midlayer.cli.perftest;

import picocli.CommandLine.Option;

/** How the bandwidth tests report: perftest's {@code --report_gbits}. */
final class BwReportOptions {
  @Option(names = "--report_gbits",
      description = "Report bandwidth in Gb/s (10^9 bits) instead of MiB/s; --json then carries bw_peak_gb_s and "
          + "bw_avg_gb_s too.")
  boolean gbits;
}
