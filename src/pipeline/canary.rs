//! How many pods a canary gets, and what the stable side keeps meanwhile.

/// Canary and stable replica counts for `percent` of `replicas`: at least one canary pod, and
/// the two together never more than the service asked for (unless it asked for one, when the
/// canary runs beside it).
pub fn split(replicas: i32, percent: i32) -> (i32, i32) {
    let replicas = replicas.max(1);
    let percent = percent.clamp(1, 99);
    let mut canary = ((replicas * percent) as f64 / 100.0).ceil().max(1.0) as i32;
    if replicas > 1 {
        canary = canary.min(replicas - 1);
    }
    let stable = (replicas - canary).max(1);
    (canary, stable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ten_percent_of_ten_is_one() {
        assert_eq!(split(10, 10), (1, 9));
        assert_eq!(split(4, 25), (1, 3));
        assert_eq!(split(4, 50), (2, 2));
    }

    #[test]
    fn a_single_replica_service_keeps_its_pod_beside_the_canary() {
        assert_eq!(split(1, 10), (1, 1));
    }

    proptest! {
        #[test]
        fn canary_is_never_empty_and_stable_never_vanishes(replicas in 1i32..500, percent in 1i32..100) {
            let (canary, stable) = split(replicas, percent);
            prop_assert!(canary >= 1);
            prop_assert!(stable >= 1);
            if replicas > 1 {
                prop_assert_eq!(canary + stable, replicas);
            }
        }
    }
}
