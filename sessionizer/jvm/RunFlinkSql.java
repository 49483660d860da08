// sessionsim's Flink runner: execute a SQL script's statements in a Flink TableEnvironment
// (streaming mode) and wait for the last one (the INSERT) to finish.
//
//   java -cp "$FLINK_HOME/lib/*" RunFlinkSql.java script.sql [key=value ...]
//
// Each key=value is a Flink configuration option: parallelism.default, and for a running
// cluster execution.target=remote with rest.address and rest.port (without them, a local
// mini-cluster runs inside this JVM). Statements end with ';' at the end of a line.
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.table.api.EnvironmentSettings;
import org.apache.flink.table.api.TableEnvironment;
import org.apache.flink.table.api.TableResult;

public class RunFlinkSql {
    public static void main(String[] args) throws Exception {
        Configuration conf = new Configuration();
        for (int i = 1; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            conf.setString(kv[0], kv[1]);
        }
        TableEnvironment env = TableEnvironment.create(
            EnvironmentSettings.newInstance().inStreamingMode().withConfiguration(conf).build());
        TableResult last = null;
        for (String statement : Files.readString(Path.of(args[0])).split(";\\s*\\n")) {
            if (!statement.isBlank()) {
                last = env.executeSql(statement);
            }
        }
        if (last != null) {
            last.await();
        }
        System.exit(0); // a mini-cluster's threads must not keep the JVM alive
    }
}
