package dev.midlayer.cli.perftest;

import dev.midlayer.ib.WrOpcode;
import picocli.CommandLine.Command;

/** {@code midlayer perftest read_lat}: {@code ib_read_lat} on the loopback fabric (or across JVMs with --fabric cluster); see {@link OneSidedLatCommand}. */
@Command(name = "read_lat", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"RDMA READ latency test (ib_read_lat) over one RC QP pair on the loopback fabric (or across JVMs with --fabric cluster): one WR at a time, post to completion.",
        "Columns: #bytes #iterations t_min t_max t_typical (median) t_avg t_stdev 99%% 99.9%% percentile,",
        "all full round trips in usec (as perftest reports READ and atomics)."})
final class ReadLatCommand extends OneSidedLatCommand {
  @Override
  String test() {
    return "read_lat";
  }

  @Override
  WrOpcode opcode() {
    return WrOpcode.RDMA_READ;
  }
}
