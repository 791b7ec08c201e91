/*
 * RocketMQ 5's Java SDK (rocketmq-client-java, gRPC) through the proxy, for
 * the rocketmq-pulumi end-to-end tests.
 *
 *   ProxyCheck roundtrip <endpoints> <topic> <group> <count> <timeoutSeconds> [<perSecond>]
 *       starts a SimpleConsumer of <group> on <topic>, sends <count> keyed
 *       messages (sync; <perSecond> a second if given), then receives and
 *       acknowledges until every acknowledged key arrived or the timeout
 *       passed.  Prints "SENT <ok> <failed>", "RECEIVED <distinct of this
 *       run>", "LOST <acknowledged, never received>", "DUPLICATES <n>" and
 *       "RECEIVE-ERRORS <n>" (a receive that failed, e.g. its proxy stopped;
 *       the next one goes on); exit 0 iff nothing acknowledged was lost.
 *
 * <endpoints>: proxies' host:port, several separated by ';' (the output
 * proxyEndpoints).  Keys start with a per-run prefix, so messages left on the
 * topic by earlier runs are acknowledged and not counted.  Exit status 2
 * means bad usage.  With RMQCHECK_ACCESS_KEY and RMQCHECK_SECRET_KEY in the
 * environment (never on the command line), the client signs as that user (ACL).
 */

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.rocketmq.client.apis.ClientConfiguration;
import org.apache.rocketmq.client.apis.ClientConfigurationBuilder;
import org.apache.rocketmq.client.apis.ClientServiceProvider;
import org.apache.rocketmq.client.apis.StaticSessionCredentialsProvider;
import org.apache.rocketmq.client.apis.consumer.FilterExpression;
import org.apache.rocketmq.client.apis.consumer.SimpleConsumer;
import org.apache.rocketmq.client.apis.message.Message;
import org.apache.rocketmq.client.apis.message.MessageView;
import org.apache.rocketmq.client.apis.producer.Producer;

public final class ProxyCheck {
    private static final Duration AWAIT = Duration.ofSeconds(5);
    private static final Duration INVISIBLE = Duration.ofSeconds(30);
    private static final int MAX_ERRORS_SHOWN = 5;

    private ProxyCheck() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 6 || args.length > 7 || !args[0].equals("roundtrip")) {
            System.err.println(
                "usage: ProxyCheck roundtrip <endpoints> <topic> <group> <count> <timeoutSeconds> [<perSecond>]");
            System.exit(2);
        }
        int perSecond = args.length == 7 ? Integer.parseInt(args[6]) : 0;
        int status = roundtrip(args[1], args[2], args[3], Integer.parseInt(args[4]), Long.parseLong(args[5]),
            perSecond);
        System.exit(status);
    }

    private static int roundtrip(String endpoints, String topic, String group, int count, long timeoutSeconds,
        int perSecond) throws Exception {
        ClientServiceProvider provider = ClientServiceProvider.loadService();
        ClientConfigurationBuilder builder = ClientConfiguration.newBuilder()
            .setEndpoints(endpoints)
            // PROXYCHECK_SSL=true: the cluster's proxies speak TLS (rocketmq:tls); the SDK trusts any certificate.
            .enableSsl(Boolean.parseBoolean(System.getenv("PROXYCHECK_SSL")))
            .setRequestTimeout(Duration.ofSeconds(10));
        String accessKey = System.getenv("RMQCHECK_ACCESS_KEY");
        String secretKey = System.getenv("RMQCHECK_SECRET_KEY");
        if (accessKey != null && secretKey != null) {
            builder.setCredentialProvider(new StaticSessionCredentialsProvider(accessKey, secretKey));
        }
        ClientConfiguration configuration = builder.build();
        String run = UUID.randomUUID().toString().substring(0, 8);
        Set<String> sent = ConcurrentHashMap.newKeySet();
        Set<String> received = ConcurrentHashMap.newKeySet();
        int duplicates = 0;
        int failed = 0;
        int receiveErrors = 0;
        try (SimpleConsumer consumer = provider.newSimpleConsumerBuilder()
            .setClientConfiguration(configuration)
            .setConsumerGroup(group)
            .setAwaitDuration(AWAIT)
            .setSubscriptionExpressions(Collections.singletonMap(topic, FilterExpression.SUB_ALL))
            .build()) {
            // A new group starts at the queues' ends: one receive first, so this run's sends come after it.
            acknowledge(consumer, consumer.receive(32, INVISIBLE));
            try (Producer producer = provider.newProducerBuilder()
                .setClientConfiguration(configuration)
                .setTopics(topic)
                .build()) {
                long started = System.currentTimeMillis();
                for (int i = 0; i < count; i++) {
                    if (perSecond > 0) {
                        long due = started + i * 1000L / perSecond;
                        long wait = due - System.currentTimeMillis();
                        if (wait > 0) {
                            Thread.sleep(wait);
                        }
                    }
                    String key = run + "-" + i;
                    Message message = provider.newMessageBuilder()
                        .setTopic(topic)
                        .setKeys(key)
                        .setBody(("proxycheck " + key).getBytes(StandardCharsets.UTF_8))
                        .build();
                    try {
                        producer.send(message);
                        sent.add(key);
                    } catch (Exception e) {
                        if (++failed <= MAX_ERRORS_SHOWN) {
                            System.out.println("SEND-ERROR " + key + " " + e);
                        }
                    }
                }
            }
            System.out.println("SENT " + sent.size() + " " + failed);
            long deadline = System.currentTimeMillis() + timeoutSeconds * 1000;
            while (!received.containsAll(sent) && System.currentTimeMillis() < deadline) {
                List<MessageView> messages;
                try {
                    messages = consumer.receive(32, INVISIBLE);
                } catch (Exception e) {
                    if (++receiveErrors <= MAX_ERRORS_SHOWN) {
                        System.out.println("RECEIVE-ERROR " + e);
                    }
                    Thread.sleep(500);
                    continue;
                }
                for (MessageView view : messages) {
                    for (String key : view.getKeys()) {
                        if (key.startsWith(run + "-") && !received.add(key)) {
                            duplicates++;
                        }
                    }
                }
                acknowledge(consumer, messages);
            }
        }
        Set<String> lost = ConcurrentHashMap.newKeySet();
        lost.addAll(sent);
        lost.removeAll(received);
        System.out.println("RECEIVED " + received.size());
        System.out.println("LOST " + lost.size());
        System.out.println("DUPLICATES " + duplicates);
        System.out.println("RECEIVE-ERRORS " + receiveErrors);
        return lost.isEmpty() ? 0 : 1;
    }

    private static void acknowledge(SimpleConsumer consumer, List<MessageView> messages) throws Exception {
        for (MessageView view : messages) {
            consumer.ack(view);
        }
    }
}
