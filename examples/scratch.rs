use datafusion::prelude::*;
#[tokio::main]
async fn main() -> datafusion::error::Result<()> {
    let ctx = SessionContext::new();
    for q in [
        "select arrow_typeof(cast(10000.5 as decimal(38,12)) * cast(0.5 as decimal(38,12))) t, cast(123456789.5 as decimal(38,12)) * cast(1000.5 as decimal(38,12)) v",
        "select cast(123456789.123 as decimal(38,12)) / cast(100 as decimal(38,12)) v, arrow_typeof(cast(123456789.123 as decimal(38,12)) / cast(100 as decimal(38,12)))",
        "select cast(123456789.123 as decimal(38,12)) / 100 v, arrow_typeof(cast(123456789.123 as decimal(38,12)) / 100)",
        "select avg(x), arrow_typeof(avg(x)), sum(x) from (values (cast(1.5 as decimal(38,12))), (cast(2.25 as decimal(38,12)))) t(x)",
        "select cast(0.096 as decimal(38,12)) * 100 = cast(9.6 as decimal(38,12)) v",
        "select cast(5 as decimal(38,12)) - cast(9.6 as decimal(38,12)) v, round(cast(5.123456 as decimal(38,12)), 2) r",
        "select cast(1234567.5 as decimal(38,12)) * cast(1234567.5 as decimal(38,12))",
    ] {
        match ctx.sql(q).await { Ok(df) => match df.show().await { Ok(_) => {}, Err(e) => println!("ERR {e}") }, Err(e) => println!("ERR {e}") }
    }
    Ok(())
}
