import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Kafka's own Java client, for the interop tests (test/integration/foreign). Records cross as lines of
 * tab-separated base64: key ("-" for null), value, headers ("name=base64,..." or "-"), partition.
 *
 *   produce <brokers> (<topic> <compression> <file>)...        prints "<topic> <partition> <offset>" per record
 *   transactional <brokers> <topic> <txId> <abortedFile> <committedFile>
 *   consume <brokers> <topic> <marker> <count> <timeoutMs>     prints the records whose value contains marker
 */
public class JavaClient {
  private static final Base64.Encoder B64 = Base64.getEncoder();
  private static final Base64.Decoder UNB64 = Base64.getDecoder();

  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "produce" -> {
        for (int i = 2; i + 2 < args.length; i += 3) produce(args[1], args[i], args[i + 1], args[i + 2]);
      }
      case "transactional" -> transactional(args[1], args[2], args[3], args[4], args[5]);
      case "consume" -> consume(args[1], args[2], args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]));
      default -> throw new IllegalArgumentException("unknown mode " + args[0]);
    }
  }

  private static Properties producerProps(String brokers, String compression) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    // One batch for all the records of a call: the whole batch is compressed together.
    p.put(ProducerConfig.LINGER_MS_CONFIG, "100");
    return p;
  }

  private static List<ProducerRecord<byte[], byte[]>> read(String topic, String file) throws Exception {
    List<ProducerRecord<byte[], byte[]>> out = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(file), StandardCharsets.UTF_8)) {
      if (line.isEmpty()) continue;
      String[] f = line.split("\t", -1);
      byte[] key = f[0].equals("-") ? null : UNB64.decode(f[0]);
      Integer partition = f.length > 3 && !f[3].equals("-") ? Integer.valueOf(f[3]) : null;
      ProducerRecord<byte[], byte[]> r = new ProducerRecord<>(topic, partition, key, UNB64.decode(f[1]));
      if (!f[2].equals("-")) {
        for (String h : f[2].split(",")) {
          String[] kv = h.split("=", 2);
          r.headers().add(kv[0], UNB64.decode(kv[1]));
        }
      }
      out.add(r);
    }
    return out;
  }

  private static void produce(String brokers, String topic, String compression, String file) throws Exception {
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(brokers, compression))) {
      List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
      for (ProducerRecord<byte[], byte[]> r : read(topic, file)) sent.add(producer.send(r));
      producer.flush();
      for (var f : sent) {
        RecordMetadata m = f.get();
        System.out.println(m.topic() + " " + m.partition() + " " + m.offset());
      }
    }
  }

  private static void transactional(String brokers, String topic, String txId, String aborted, String committed)
      throws Exception {
    Properties p = producerProps(brokers, "none");
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txId);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
      producer.initTransactions();
      producer.beginTransaction();
      for (ProducerRecord<byte[], byte[]> r : read(topic, aborted)) producer.send(r);
      producer.flush();
      producer.abortTransaction();
      producer.beginTransaction();
      List<java.util.concurrent.Future<RecordMetadata>> sent = new ArrayList<>();
      for (ProducerRecord<byte[], byte[]> r : read(topic, committed)) sent.add(producer.send(r));
      producer.commitTransaction();
      for (var f : sent) {
        RecordMetadata m = f.get();
        System.out.println(m.topic() + " " + m.partition() + " " + m.offset());
      }
    }
  }

  private static void consume(String brokers, String topic, String marker, int count, long timeoutMs) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "java-interop-" + System.nanoTime());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    byte[] needle = marker.getBytes(StandardCharsets.UTF_8);
    int found = 0;
    long deadline = System.currentTimeMillis() + timeoutMs;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(topic));
      while (found < count && System.currentTimeMillis() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          if (r.value() == null || indexOf(r.value(), needle) < 0) continue;
          StringBuilder headers = new StringBuilder();
          for (Header h : r.headers()) {
            if (headers.length() > 0) headers.append(',');
            headers.append(h.key()).append('=').append(h.value() == null ? "" : B64.encodeToString(h.value()));
          }
          System.out.println(String.join("\t",
              r.key() == null ? "-" : B64.encodeToString(r.key()),
              B64.encodeToString(r.value()),
              headers.length() == 0 ? "-" : headers.toString(),
              String.valueOf(r.partition()),
              String.valueOf(r.offset())));
          found++;
        }
      }
    }
    if (found < count) {
      System.err.println("found " + found + " of " + count);
      System.exit(3);
    }
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
      return i;
    }
    return -1;
  }
}
