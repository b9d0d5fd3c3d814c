package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

class UsageErrorsTest {
  @ParameterizedTest(name = "{0}")
  @DisplayName("bad input on the command line is one line on stderr naming the command and the problem, exit code 2")
  @CsvSource(delimiter = '|', value = {
      "devinfo --bogus | midlayer devinfo: | --bogus",
      "nosuchcommand | midlayer: | nosuchcommand",
      "perftest send_bw -s -3 | midlayer perftest send_bw: | --size",
      "perftest send_bw -n lots | midlayer perftest send_bw: | lots",
      // Every numeric option is bounded before anything is allocated; device limits are named.
      "devinfo -p 0 | midlayer devinfo: | --ports must be 1..255, was 0",
      "devinfo --devices 100000 | midlayer devinfo: | --devices must be 0..64, was 100000",
      "devinfo -d nosuch | midlayer devinfo: | --ib-dev 'nosuch': no such device (devices: lo0, lo1)",
      "devinfo -i 3 | midlayer devinfo: | --ib-port must be 1..1 (phys_port_cnt), was 3",
      "fetch -n -1 | midlayer fetch: | --fetches must be 1..2147483647, was -1",
      "fetch --depth 0 | midlayer fetch: | --depth must be 1..5461 (max_qp_wr / 3 send WRs per fetch), was 0",
      "fetch --pages 0 | midlayer fetch: | --pages must be 1..512 (max_fast_reg_page_list_len), was 0",
      "fetch --store-mib 2048 | midlayer fetch: | --store-mib must be 1..1024, was 2048",
      "fetch --store-mib 4096 | midlayer fetch: | --store-mib must be 1..1024, was 4096",
      "fetch --store-mib 100000 | midlayer fetch: | --store-mib must be 1..1024, was 100000",
      "fetch --depth 1024 --pages 512 | midlayer fetch: | --depth x --pages x 4 KiB must be <= 1024 MiB, was 2048 MiB",
      "perftest send_bw -s 2147483647 | midlayer perftest send_bw: | --size must be 1..8388608 (max_msg_sz), was 2147483647",
      "perftest send_bw -s 0 | midlayer perftest send_bw: | --size must be 1..8388608 (max_msg_sz), was 0",
      "perftest write_bw -s 0 | midlayer perftest write_bw: | --size must be 1..8388608 (max_msg_sz), was 0",
      "perftest atomic_bw -s 16 | midlayer perftest atomic_bw: | --size must be 8 for atomic_bw",
      "perftest atomic_lat -s 4 | midlayer perftest atomic_lat: | --size must be 8 for atomic_lat",
      "perftest send_bw -q 70000 | midlayer perftest send_bw: | --qp must be 1..65536 (max_qp), was 70000",
      "perftest send_bw -t 100000 | midlayer perftest send_bw: | --tx-depth must be 1..16384 (max_qp_wr), was 100000",
      "perftest send_lat -I 1000 | midlayer perftest send_lat: | --inline-size must be 0..256 (max_inline_data), was 1000",
      "perftest read_lat -n 0 | midlayer perftest read_lat: | --iterations must be >= 1, was 0",
      "perftest | midlayer perftest: | a command is required, one of: send_bw, send_lat",
      "node -d 0 | midlayer node: | --devices must be 1..64, was 0",
      "pingpong -s 4 | midlayer pingpong: | --size must be 8..16777216, was 4",
      "pingpong -s 2147483647 | midlayer pingpong: | --size must be 8..16777216, was 2147483647",
      "pingpong -n 0 | midlayer pingpong: | --iters must be >= 1, was 0",
      "pingpong -n many | midlayer pingpong: | many",
      "demo --seconds 1 | midlayer demo: | --seconds must be 2..3600, was 1",
      "demo -s 0 | midlayer demo: | --size must be 8..16777216, was 0",
      "demo --nodes 3 | midlayer demo: | --nodes must be 1..2, was 3",
      "kv --keys 0 | midlayer kv: | --keys must be 1..1048576, was 0",
      "kv --window 1000 | midlayer kv: | --window must be 1..256, was 1000",
      "kv --get-ratio 1.5 | midlayer kv: | --get-ratio must be 0..1, was 1.5",
      "kv --keys 1048576 -s 4096 | midlayer kv: | --keys x 4 slots x the slot size must be <= 1024 MiB, was 16608 MiB",
      "kv --server --connect 127.0.0.1:1 | midlayer kv: | give at most one of --server and --connect",
      "kv --connect nohost | midlayer kv: | --connect must be HOST:PORT, was 'nohost'",
      "kv --server --bind 127.0.0.1:70000 | midlayer kv: | --bind: port must be 0..65535, was '70000'",
      "rpc --clients 0 | midlayer rpc: | --clients must be 1..16, was 0",
      "rpc --credits 257 | midlayer rpc: | --credits must be 1..256, was 257",
      "rpc -s 1025 | midlayer rpc: | --request-size must be 0..1024, was 1025",
      "rpc --response-size 245 | midlayer rpc: | --response-size must be 0..244, was 245",
      "rpc --seconds 0 | midlayer rpc: | --seconds must be 1..3600, was 0",
      "rpc --warmup 601 | midlayer rpc: | --warmup must be 0..600, was 601",
      "rpc --server --connect 127.0.0.1:1 | midlayer rpc: | give at most one of --server and --connect",
      "rpc --connect 127.0.0.1 | midlayer rpc: | --connect must be HOST:PORT, was '127.0.0.1'",
      "rpc --server --bind :1 | midlayer rpc: | --bind must be HOST:PORT, was ':1'",
      "perftest send_bw -D 1 -n 5 | midlayer perftest send_bw: | give at most one of --iterations and --duration",
      "perftest write_bw -a -D 1 | midlayer perftest write_bw: | give at most one of --all and --duration",
      "perftest write_lat -D 1 | midlayer perftest write_lat: | --duration is not supported",
      "perftest send_lat -D 3601 | midlayer perftest send_lat: | --duration must be 0..3600, was 3601",
      "perftest send_bw -l 200 | midlayer perftest send_bw: | --post-list must be 1..128 (--tx-depth), was 200",
      "perftest read_bw -l 0 -t 8 | midlayer perftest read_bw: | --post-list must be 1..8 (--tx-depth), was 0",
      "perftest artery_bw -l 4 | midlayer perftest artery_bw: | -l",
      "perftest send_bw -c UD | midlayer perftest send_bw: | --connection must be RC or UC, was 'UD'",
      "perftest read_bw -c UC | midlayer perftest read_bw: | read_bw needs RC: UC carries no RDMA READ or atomics",
      "perftest atomic_lat -c uc | midlayer perftest atomic_lat: | atomic_lat needs RC",
      "stat --connect nohost | midlayer stat: | --connect must be HOST:PORT, was 'nohost'",
      "stat cl0/x | midlayer stat: | LINK must be DEV or DEV/PORT, was 'cl0/x'",
      "stat --timeout 0 | midlayer stat: | --timeout must be 1..3600, was 0",
      "res mw | midlayer res: | KIND must be one of pd, cq, qp, srq, mr, fmr, was 'mw'",
      "res qp extra | midlayer res: | extra",
      "res --connect 127.0.0.1:99999 | midlayer res: | --connect: port must be 1..65535, was '99999'"})
  void usageErrorIsOneLine(String args, String prefix, String names) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(UsageErrors.EXIT_CODE, cmd.execute(args.split(" ")), err.toString());
    String text = err.toString();
    assertEquals(1, text.lines().count(), "one line, no usage dump: " + text);
    assertTrue(text.startsWith(prefix) && text.contains(names), text);
    assertTrue(!text.contains("\tat ") && !text.contains("Exception"), "no stack trace: " + text);
    assertEquals("", out.toString());
  }

  @Test
  @DisplayName("a command that fails while it runs prints one line naming the command and the root cause, exit 1, "
      + "no stack trace")
  void aRunFailureIsOneLine() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = UsageErrors.install(new CommandLine(new Failing()));
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(RunFailures.EXIT_CODE, cmd.execute());
    assertEquals("failing: failed: the table is full there", err.toString().strip());
  }

  @picocli.CommandLine.Command(name = "failing")
  static final class Failing implements java.util.concurrent.Callable<Integer> {
    @Override
    public Integer call() throws Exception {
      throw new java.util.concurrent.ExecutionException(new IllegalStateException("the table is full there"));
    }
  }

  @Test
  @DisplayName("midlayer without a command is a usage error naming the commands, not a help page with exit 0")
  void noCommandIsAUsageError() {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = MidlayerCli.commandLine();
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    assertEquals(UsageErrors.EXIT_CODE, cmd.execute());
    assertEquals("midlayer: a command is required, one of: demo, devinfo, hotplug, pingpong, kv, rpc, fetch, node, stat, res, perftest (see --help)",
        err.toString().strip());
    assertEquals("", out.toString());
  }
}
