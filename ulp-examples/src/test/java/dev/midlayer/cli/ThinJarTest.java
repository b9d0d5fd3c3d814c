package dev.midlayer.cli;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What the thin midlayer-ulp-examples jar imposes on an application that depends on it: no logging setup. */
class ThinJarTest {
  @Test
  void noLogbackXmlOnTheMainClasspath() {
    assertNull(MidlayerCli.class.getResource("/logback.xml"),
        "a logback.xml in the jar would configure the embedding application's logging");
    assertNotNull(MidlayerCli.class.getResource("/" + MidlayerCli.LOGBACK_CONFIG), "the CLI's own configuration");
  }

  @Test
  void logbackIsAnOptionalDependency() throws Exception {
    String pom = Files.readString(Path.of("pom.xml"));
    int at = pom.indexOf("<artifactId>logback-classic</artifactId>");
    assertTrue(at > 0, "the CLI's binding is declared");
    String dependency = pom.substring(at, pom.indexOf("</dependency>", at));
    assertTrue(dependency.contains("<optional>true</optional>"),
        "optional: not passed on to applications that depend on this jar: " + dependency);
  }
}
