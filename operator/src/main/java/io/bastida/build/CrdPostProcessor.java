package io.bastida.build;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import io.fabric8.crd.generator.annotation.AdditionalPrinterColumn;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Puts the printer columns of each generated CRD in the order they are declared on the resource
 * class. The Fabric8 generator collects them in a hash set whose order changes from one JVM to the
 * next (enum hash codes are identity-based), which would make {@code kubectl get} columns random
 * and the committed CRDs never up to date.
 */
public final class CrdPostProcessor {
  private static final String API_PACKAGE = "io.bastida.api.v1alpha1.";
  private static final ObjectMapper YAML =
      new ObjectMapper(
          new YAMLFactory()
              .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
              .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

  private CrdPostProcessor() {}

  public static void main(String[] args) throws Exception {
    try (Stream<Path> files = Files.list(Path.of(args[0]))) {
      for (Path file : files.filter(f -> f.toString().endsWith("-v1.yml")).sorted().toList()) {
        orderPrinterColumns(file);
      }
    }
  }

  private static void orderPrinterColumns(Path file) throws IOException, ClassNotFoundException {
    JsonNode crd = YAML.readTree(file.toFile());
    Class<?> kind = Class.forName(API_PACKAGE + crd.at("/spec/names/kind").asText());
    List<String> declared =
        Stream.of(kind.getAnnotationsByType(AdditionalPrinterColumn.class))
            .map(AdditionalPrinterColumn::jsonPath)
            .toList();
    for (JsonNode version : crd.at("/spec/versions")) {
      if (version.get("additionalPrinterColumns") instanceof ArrayNode columns) {
        List<JsonNode> sorted = new ArrayList<>();
        columns.forEach(sorted::add);
        sorted.sort(Comparator.comparingInt(c -> declared.indexOf(c.get("jsonPath").asText())));
        ((ObjectNode) version).putArray("additionalPrinterColumns").addAll(sorted);
      }
    }
    String header = "# Generated from the classes in " + API_PACKAGE + "* -- do not edit.\n";
    Files.writeString(file, header + YAML.writeValueAsString(crd));
  }
}
