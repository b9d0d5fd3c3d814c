package dev.midlayer.cli.perftest;

import dev.midlayer.ib.WrOpcode;
import picocli.CommandLine.Command;

/** {@code midlayer perftest read_bw}: {@code ib_read_bw} on the loopback fabric (or across JVMs with --fabric cluster); see {@link OneSidedBwCommand}. */
@Command(name = "read_bw", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"RDMA READ bandwidth test (ib_read_bw) over RC QP pairs on the loopback fabric (or across JVMs with --fabric cluster); no receives, the server side only provides "
        + "registered target memory.",
        "Columns: #bytes #iterations BW peak[MiB/sec] BW average[MiB/sec] MsgRate[Mpps] (aggregate over all QPs).",
        "-n counts WRs in all, not per QP; every -Q-th WR is signaled; --warmup WRs run first, unmeasured."})
final class ReadBwCommand extends OneSidedBwCommand {
  @Override
  String test() {
    return "read_bw";
  }

  @Override
  WrOpcode opcode() {
    return WrOpcode.RDMA_READ;
  }
}
